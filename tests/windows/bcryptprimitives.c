/*
 * Test-only: Wine 8 has no bcryptprimitives.dll, which Rust's standard library
 * imports (ProcessPrng) on Windows, so no Rust program starts under it. This DLL
 * provides ProcessPrng through advapi32's RtlGenRandom. It is copied into the test's
 * own Wine prefix by scripts/windows.sh and never shipped: real Windows has the DLL.
 */
#include <windows.h>

#define RtlGenRandom SystemFunction036
BOOLEAN NTAPI RtlGenRandom(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!RtlGenRandom(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
