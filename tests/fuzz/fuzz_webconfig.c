/* libFuzzer target: the web configuration (YAML) parser. */
#include "config/webconfig.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    webconfig_t wc;
    char err[512];
    if (webconfig_parse((const char *)data, size, "fuzz.yml", &wc, err, sizeof err) == 0) {
        webconfig_tls_priorities(&wc);
        webconfig_free(&wc);
    }
    return 0;
}
