/* Test support for Wine 8, which lacks bcryptprimitives.dll: Rust's standard library imports
 * ProcessPrng from it (Windows 10 and later have it). This stand-in, installed only into the
 * test Wine prefix, fills the buffer from BCryptGenRandom, which Wine implements. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}
