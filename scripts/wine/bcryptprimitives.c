/* Wine 8.0 has no bcryptprimitives.dll, whose ProcessPrng Rust std >= 1.78 imports for its
 * random keys: without it every Rust exe exits 53 with no output. This stub forwards to
 * RtlGenRandom (advapi32 SystemFunction036). scripts/wine-env.sh builds it with mingw-w64 into
 * each prefix; it is never shipped (real Windows 10+ has the DLL). */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
