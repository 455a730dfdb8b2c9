// libFuzzer's driver, for the executable's own `main` (SwiftPM names an executable's entry point
// `<module>_main` and points `main` at it, so libFuzzer's `main` cannot be the one that runs).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
