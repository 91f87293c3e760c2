//! An HTTP request as a hostile local client sends it: head, body and the access checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orator::api::http;

fuzz_target!(|data: &[u8]| {
    let mut stream = std::io::Cursor::new(data);
    let Ok(request) = http::read_head(&mut stream) else {
        return;
    };
    let _ = http::check_access(&request, 7580, "");
    let _ = http::check_access(&request, 7580, "token");
    let _ = http::check_json(&request);
    let _ = request.is_websocket();
    if let Ok(body) = http::read_body(&mut stream, &request) {
        let announced: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert_eq!(
            body.len(),
            announced,
            "the body is not what the head announced"
        );
    }
});
