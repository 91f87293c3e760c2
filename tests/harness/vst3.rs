//! A small VST3 host on the `vst3` crate's bindings: it loads a `.vst3` bundle's library the way
//! a DAW does (`GetPluginFactory`, the audio component, `initialize` with a host context), reads
//! and writes the component's state through a memory stream, activates at a rate and processes
//! 32-bit stereo blocks with sample-accurate parameter changes. It runs where no ready VST3 host
//! does (the Windows bundle under Wine) and beside pedalboard on Linux.
//!
//! Thread model: every call happens on the calling thread, like [`crate::LoadedPlugin`]. Loaded
//! libraries are never unloaded while the process runs (see `ENTRIES` in `lib.rs`).

// The bindings' enum constants are `u32` on Linux and `i32` on Windows (where C enums are
// signed), so casts that are needed on one are redundant on the other.
#![allow(clippy::unnecessary_cast)]

use anyhow::{Context, Result, bail, ensure};
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use vst3::Steinberg::Vst::{
    AudioBusBuffers, AudioBusBuffers__type0, BusDirections_, BusInfo, IAudioProcessor,
    IAudioProcessorTrait, IComponent, IComponentTrait, IEditController, IEditControllerTrait,
    IHostApplication, IHostApplicationTrait, IParamValueQueue, IParamValueQueueTrait,
    IParameterChanges, IParameterChangesTrait, MediaTypes_, ParamID, ParamValue, ParameterInfo,
    ProcessData, ProcessModes_, ProcessSetup, SpeakerArr, String128, SymbolicSampleSizes_,
};
use vst3::Steinberg::{
    FIDString, FUnknown, IBStream, IBStream_::IStreamSeekMode_, IBStreamTrait, IPluginBaseTrait,
    IPluginFactory, IPluginFactoryTrait, PClassInfo, TUID, int32, int64, kInvalidArgument,
    kNotImplemented, kResultFalse, kResultOk, tresult,
};
use vst3::{Class, ComPtr, ComWrapper, Interface};

/// Where the built VST3 bundle is: `$ORATOR_VST3`, else `target/bundled/Orator.vst3`.
pub fn bundle_path() -> PathBuf {
    std::env::var_os("ORATOR_VST3").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bundled/Orator.vst3"),
        PathBuf::from,
    )
}

/// The library inside a bundle, in this platform's folder of the VST3 layout.
pub fn library_in(bundle: &Path) -> PathBuf {
    let contents = bundle.join("Contents");
    if cfg!(windows) {
        contents.join("x86_64-win").join("Orator.vst3")
    } else {
        contents.join("x86_64-linux").join("Orator.so")
    }
}

/// A memory stream the plugin reads its state from and writes it to.
#[derive(Default)]
struct Stream {
    data: RefCell<Vec<u8>>,
    position: Cell<usize>,
}

impl Class for Stream {
    type Interfaces = (IBStream,);
}

impl IBStreamTrait for Stream {
    unsafe fn read(&self, buffer: *mut c_void, bytes: int32, read: *mut int32) -> tresult {
        let data = self.data.borrow();
        let start = self.position.get().min(data.len());
        let count = usize::try_from(bytes).unwrap_or(0).min(data.len() - start);
        // SAFETY: the plugin gives a buffer of at least `bytes` bytes.
        unsafe { std::ptr::copy_nonoverlapping(data[start..].as_ptr(), buffer.cast(), count) };
        self.position.set(start + count);
        if !read.is_null() {
            // SAFETY: a valid out-pointer when not null.
            unsafe { *read = count as int32 };
        }
        kResultOk
    }

    unsafe fn write(&self, buffer: *mut c_void, bytes: int32, written: *mut int32) -> tresult {
        let Ok(count) = usize::try_from(bytes) else {
            return kInvalidArgument;
        };
        // SAFETY: the plugin gives `bytes` readable bytes.
        let bytes_in = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), count) };
        let mut data = self.data.borrow_mut();
        let start = self.position.get();
        if data.len() < start + count {
            data.resize(start + count, 0);
        }
        data[start..start + count].copy_from_slice(bytes_in);
        self.position.set(start + count);
        if !written.is_null() {
            // SAFETY: a valid out-pointer when not null.
            unsafe { *written = count as int32 };
        }
        kResultOk
    }

    unsafe fn seek(&self, pos: int64, mode: int32, result: *mut int64) -> tresult {
        let base = match mode as u32 {
            m if m == IStreamSeekMode_::kIBSeekSet as u32 => 0,
            m if m == IStreamSeekMode_::kIBSeekCur as u32 => self.position.get() as int64,
            m if m == IStreamSeekMode_::kIBSeekEnd as u32 => self.data.borrow().len() as int64,
            _ => return kInvalidArgument,
        };
        let Ok(to) = usize::try_from(base + pos) else {
            return kInvalidArgument;
        };
        self.position.set(to);
        if !result.is_null() {
            // SAFETY: a valid out-pointer when not null.
            unsafe { *result = to as int64 };
        }
        kResultOk
    }

    unsafe fn tell(&self, pos: *mut int64) -> tresult {
        if pos.is_null() {
            return kInvalidArgument;
        }
        // SAFETY: checked non-null.
        unsafe { *pos = self.position.get() as int64 };
        kResultOk
    }
}

/// The host context given to `initialize`.
struct Host;

impl Class for Host {
    type Interfaces = (IHostApplication,);
}

impl IHostApplicationTrait for Host {
    unsafe fn getName(&self, name: *mut String128) -> tresult {
        let wanted: Vec<u16> = "Orator test host".encode_utf16().collect();
        // SAFETY: the plugin gives a String128 to fill.
        let out = unsafe { &mut *name };
        out.fill(0);
        for (slot, unit) in out.iter_mut().zip(wanted) {
            *slot = unit as _;
        }
        kResultOk
    }

    unsafe fn createInstance(
        &self,
        _cid: *mut TUID,
        _iid: *mut TUID,
        obj: *mut *mut c_void,
    ) -> tresult {
        if !obj.is_null() {
            // SAFETY: a valid out-pointer when not null.
            unsafe { *obj = std::ptr::null_mut() };
        }
        kNotImplemented
    }
}

/// One parameter's points in a block.
struct Queue {
    id: ParamID,
    points: Vec<(int32, ParamValue)>,
}

impl Class for Queue {
    type Interfaces = (IParamValueQueue,);
}

impl IParamValueQueueTrait for Queue {
    unsafe fn getParameterId(&self) -> ParamID {
        self.id
    }

    unsafe fn getPointCount(&self) -> int32 {
        self.points.len() as int32
    }

    unsafe fn getPoint(&self, index: int32, offset: *mut int32, value: *mut ParamValue) -> tresult {
        let Some(&(at, v)) = usize::try_from(index).ok().and_then(|i| self.points.get(i)) else {
            return kInvalidArgument;
        };
        // SAFETY: the plugin gives valid out-pointers.
        unsafe {
            *offset = at;
            *value = v;
        }
        kResultOk
    }

    unsafe fn addPoint(&self, _: int32, _: ParamValue, _: *mut int32) -> tresult {
        kResultFalse
    }
}

/// A block's parameter changes.
struct Changes {
    queues: Vec<ComPtr<IParamValueQueue>>,
}

impl Class for Changes {
    type Interfaces = (IParameterChanges,);
}

impl IParameterChangesTrait for Changes {
    unsafe fn getParameterCount(&self) -> int32 {
        self.queues.len() as int32
    }

    unsafe fn getParameterData(&self, index: int32) -> *mut IParamValueQueue {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.queues.get(i))
            .map_or(std::ptr::null_mut(), ComPtr::as_ptr)
    }

    unsafe fn addParameterData(&self, _: *const ParamID, _: *mut int32) -> *mut IParamValueQueue {
        std::ptr::null_mut()
    }
}

/// A change of a parameter (normalised value) at a sample of a block.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub id: ParamID,
    pub at: u32,
    pub value: f64,
}

/// An instance of the plugin's audio component, with its processor and controller interfaces.
pub struct Vst3Plugin {
    component: ComPtr<IComponent>,
    processor: ComPtr<IAudioProcessor>,
    controller: ComPtr<IEditController>,
    /// Audio input and output buses' channel counts.
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    active: bool,
    max_block: usize,
    mode: i32,
}

fn check(result: tresult, what: &str) -> Result<()> {
    ensure!(result == kResultOk, "{what} returned {result}");
    Ok(())
}

/// Reads a NUL-terminated UTF-16 VST3 string.
fn utf16(text: &String128) -> String {
    let units: Vec<u16> = text.iter().copied().take_while(|&u| u != 0).collect();
    String::from_utf16_lossy(&units)
}

/// The factory of the library at `path`, loaded once per process.
fn factory(path: &Path) -> Result<ComPtr<IPluginFactory>> {
    // SAFETY: loading our own build of the plugin runs its initialisers, nothing else.
    let library = unsafe { libloading::Library::new(path) }
        .with_context(|| format!("could not load {}", path.display()))?;
    // SAFETY: the VST3 module entry points have these signatures.
    unsafe {
        if cfg!(windows) {
            if let Ok(init) = library.get::<unsafe extern "system" fn() -> bool>(b"InitDll") {
                ensure!(init(), "InitDll failed");
            }
        } else if let Ok(entry) =
            library.get::<unsafe extern "C" fn(*mut c_void) -> bool>(b"ModuleEntry")
        {
            ensure!(entry(std::ptr::null_mut()), "ModuleEntry failed");
        }
        let get = library
            .get::<unsafe extern "system" fn() -> *mut IPluginFactory>(b"GetPluginFactory")
            .context("no GetPluginFactory")?;
        let factory = ComPtr::from_raw(get()).context("GetPluginFactory returned null")?;
        // Never unloaded (see the module's map).
        std::mem::forget(library);
        Ok(factory)
    }
}

impl Vst3Plugin {
    /// Loads the bundle's library and creates and initialises its audio component.
    pub fn load(bundle: &Path) -> Result<Self> {
        let factory = factory(&library_in(bundle))?;
        // SAFETY: plain calls on a live factory with valid out-pointers.
        unsafe {
            let mut cid: Option<TUID> = None;
            for index in 0..factory.countClasses() {
                let mut info: PClassInfo = std::mem::zeroed();
                check(factory.getClassInfo(index, &mut info), "getClassInfo")?;
                let category: Vec<u8> = info
                    .category
                    .iter()
                    .map(|&c| c as u8)
                    .take_while(|&c| c != 0)
                    .collect();
                if category == b"Audio Module Class" {
                    cid = Some(info.cid);
                }
            }
            let cid = cid.context("the factory has no audio module")?;
            let mut object: *mut c_void = std::ptr::null_mut();
            check(
                factory.createInstance(
                    cid.as_ptr() as FIDString,
                    IComponent::IID.as_ptr() as FIDString,
                    &mut object,
                ),
                "createInstance",
            )?;
            let component = ComPtr::<IComponent>::from_raw(object.cast())
                .context("createInstance gave no component")?;
            let host = ComWrapper::new(Host)
                .to_com_ptr::<FUnknown>()
                .context("the host context has no FUnknown")?;
            check(component.initialize(host.as_ptr()), "initialize")?;
            let processor = component
                .cast::<IAudioProcessor>()
                .context("the component is no IAudioProcessor")?;
            let controller = component
                .cast::<IEditController>()
                .context("the component is no IEditController (single-component plugin)")?;
            let buses = |direction| -> Result<Vec<usize>> {
                let count = component.getBusCount(MediaTypes_::kAudio as i32, direction);
                (0..count)
                    .map(|index| {
                        let mut info: BusInfo = std::mem::zeroed();
                        check(
                            component.getBusInfo(
                                MediaTypes_::kAudio as i32,
                                direction,
                                index,
                                &mut info,
                            ),
                            "getBusInfo",
                        )?;
                        Ok(usize::try_from(info.channelCount)?)
                    })
                    .collect()
            };
            let inputs = buses(BusDirections_::kInput as i32)?;
            let outputs = buses(BusDirections_::kOutput as i32)?;
            Ok(Self {
                component,
                processor,
                controller,
                inputs,
                outputs,
                active: false,
                max_block: 0,
                mode: ProcessModes_::kRealtime as i32,
            })
        }
    }

    /// The parameter whose title is `title`.
    pub fn param(&self, title: &str) -> Result<ParamID> {
        // SAFETY: plain calls with valid out-pointers.
        unsafe {
            for index in 0..self.controller.getParameterCount() {
                let mut info: ParameterInfo = std::mem::zeroed();
                check(
                    self.controller.getParameterInfo(index, &mut info),
                    "getParameterInfo",
                )?;
                if utf16(&info.title) == title {
                    return Ok(info.id);
                }
            }
        }
        bail!("no parameter titled {title:?}")
    }

    /// The component's state.
    pub fn state(&self) -> Result<Vec<u8>> {
        let stream = ComWrapper::new(Stream::default());
        let pointer = stream.to_com_ptr::<IBStream>().context("no IBStream")?;
        // SAFETY: the stream lives across the call.
        let result = unsafe { self.component.getState(pointer.as_ptr()) };
        check(result, "getState")?;
        Ok(stream.data.borrow().clone())
    }

    /// Loads `state` into the component (and its controller, as hosts do).
    pub fn set_state(&self, state: &[u8]) -> Result<()> {
        for pass in 0..2 {
            let stream = ComWrapper::new(Stream {
                data: RefCell::new(state.to_vec()),
                position: Cell::new(0),
            });
            let pointer = stream.to_com_ptr::<IBStream>().context("no IBStream")?;
            // SAFETY: the stream lives across the call.
            unsafe {
                if pass == 0 {
                    check(self.component.setState(pointer.as_ptr()), "setState")?;
                } else {
                    check(
                        self.controller.setComponentState(pointer.as_ptr()),
                        "setComponentState",
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Sets up processing at `rate` with blocks of at most `max_block` samples (offline: a
    /// render, which waits for speech) and activates the main buses and the component.
    pub fn activate(&mut self, rate: f64, max_block: usize, offline: bool) -> Result<()> {
        self.deactivate();
        self.mode = if offline {
            ProcessModes_::kOffline as i32
        } else {
            ProcessModes_::kRealtime as i32
        };
        let mut setup = ProcessSetup {
            processMode: self.mode,
            symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
            maxSamplesPerBlock: i32::try_from(max_block)?,
            sampleRate: rate,
        };
        // SAFETY: plain calls on live interfaces with valid pointers.
        unsafe {
            let mut stereo_in = vec![SpeakerArr::kStereo; self.inputs.len()];
            let mut stereo_out = vec![SpeakerArr::kStereo; self.outputs.len()];
            // Plugins may refuse an arrangement; the buses' own counts are used either way.
            self.processor.setBusArrangements(
                stereo_in.as_mut_ptr(),
                stereo_in.len() as i32,
                stereo_out.as_mut_ptr(),
                stereo_out.len() as i32,
            );
            check(
                self.processor.setupProcessing(&mut setup),
                "setupProcessing",
            )?;
            for (direction, count) in [
                (BusDirections_::kInput as i32, self.inputs.len()),
                (BusDirections_::kOutput as i32, self.outputs.len()),
            ] {
                for index in 0..count {
                    self.component.activateBus(
                        MediaTypes_::kAudio as i32,
                        direction,
                        index as i32,
                        1,
                    );
                }
            }
            check(self.component.setActive(1), "setActive")?;
            self.processor.setProcessing(1);
        }
        self.active = true;
        self.max_block = max_block;
        Ok(())
    }

    /// Stops processing and deactivates (nothing when not active).
    pub fn deactivate(&mut self) {
        if self.active {
            // SAFETY: plain calls on live interfaces.
            unsafe {
                self.processor.setProcessing(0);
                self.component.setActive(0);
            }
            self.active = false;
        }
    }

    /// Processes one block: `input` is the main input's two channels (the other inputs get
    /// silence), `points` the parameter changes in it; returns the main output's channels.
    pub fn process(&mut self, input: [&[f32]; 2], points: &[Point]) -> Result<[Vec<f32>; 2]> {
        ensure!(self.active, "process before activate");
        let frames = input[0].len();
        ensure!(
            frames == input[1].len() && frames <= self.max_block,
            "bad block of {frames}"
        );
        let mut in_channels: Vec<Vec<Vec<f32>>> = self
            .inputs
            .iter()
            .map(|&n| vec![vec![0.0; frames]; n])
            .collect();
        if let Some(main) = in_channels.first_mut() {
            for (channel, source) in main.iter_mut().zip(input) {
                channel.copy_from_slice(source);
            }
        }
        let mut out_channels: Vec<Vec<Vec<f32>>> = self
            .outputs
            .iter()
            .map(|&n| vec![vec![0.0; frames]; n])
            .collect();
        let mut in_pointers: Vec<Vec<*mut f32>> = in_channels
            .iter_mut()
            .map(|bus| bus.iter_mut().map(|c| c.as_mut_ptr()).collect())
            .collect();
        let mut out_pointers: Vec<Vec<*mut f32>> = out_channels
            .iter_mut()
            .map(|bus| bus.iter_mut().map(|c| c.as_mut_ptr()).collect())
            .collect();
        let buses = |pointers: &mut Vec<Vec<*mut f32>>| -> Vec<AudioBusBuffers> {
            pointers
                .iter_mut()
                .map(|bus| AudioBusBuffers {
                    numChannels: bus.len() as i32,
                    silenceFlags: 0,
                    __field0: AudioBusBuffers__type0 {
                        channelBuffers32: bus.as_mut_ptr(),
                    },
                })
                .collect()
        };
        let mut in_buses = buses(&mut in_pointers);
        let mut out_buses = buses(&mut out_pointers);
        let mut ids: Vec<ParamID> = points.iter().map(|p| p.id).collect();
        ids.dedup();
        let queues = ids
            .iter()
            .map(|&id| {
                let mut list: Vec<(int32, ParamValue)> = points
                    .iter()
                    .filter(|p| p.id == id)
                    .map(|p| (p.at as int32, p.value))
                    .collect();
                list.sort_by_key(|&(at, _)| at);
                ComWrapper::new(Queue { id, points: list })
                    .to_com_ptr::<IParamValueQueue>()
                    .context("no IParamValueQueue")
            })
            .collect::<Result<Vec<_>>>()?;
        let changes = ComWrapper::new(Changes { queues });
        let changes = changes
            .to_com_ptr::<IParameterChanges>()
            .context("no IParameterChanges")?;
        let mut data = ProcessData {
            processMode: self.mode,
            symbolicSampleSize: SymbolicSampleSizes_::kSample32 as i32,
            numSamples: frames as i32,
            numInputs: in_buses.len() as i32,
            numOutputs: out_buses.len() as i32,
            inputs: in_buses.as_mut_ptr(),
            outputs: out_buses.as_mut_ptr(),
            inputParameterChanges: changes.as_ptr(),
            outputParameterChanges: std::ptr::null_mut(),
            inputEvents: std::ptr::null_mut(),
            outputEvents: std::ptr::null_mut(),
            processContext: std::ptr::null_mut(),
        };
        // SAFETY: every buffer and interface lives across the call.
        check(unsafe { self.processor.process(&mut data) }, "process")?;
        let mut main = out_channels.into_iter().next().context("no output bus")?;
        ensure!(
            main.len() == 2,
            "the main output has {} channels",
            main.len()
        );
        let right = main.pop().unwrap_or_default();
        let left = main.pop().unwrap_or_default();
        Ok([left, right])
    }
}

impl Drop for Vst3Plugin {
    fn drop(&mut self) {
        self.deactivate();
        // SAFETY: the last call on the component before its last reference goes.
        unsafe {
            self.component.terminate();
        }
    }
}
