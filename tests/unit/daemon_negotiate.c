/* Unit tests of content negotiation (http/negotiate.c): which exposition
 * format an Accept header gets, and whether Accept-Encoding allows gzip. */
#include "http/negotiate.h"
#include "tap.h"

#include <string.h>

static void format_is(const char *accept, expo_format_t want, const char *type)
{
    negotiated_t n = negotiate_format(accept);
    OK(n.format == want && strcmp(n.content_type, type) == 0, "Accept: %s -> %s", accept ? accept : "(none)",
       type);
}

int main(void)
{
    const char *om1 = "application/openmetrics-text;version=1.0.0";
    const char *prom = "application/openmetrics-text;version=1.0.0;q=0.6,"
                       "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";

    format_is(NULL, EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("text/plain", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("text/plain;version=0.0.4", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is(om1, EXPO_OPENMETRICS, CONTENT_TYPE_OM_100);
    format_is("application/openmetrics-text", EXPO_OPENMETRICS, CONTENT_TYPE_OM_001);
    format_is("application/openmetrics-text; version=\"0.0.1\"", EXPO_OPENMETRICS, CONTENT_TYPE_OM_001);
    format_is(prom, EXPO_OPENMETRICS, CONTENT_TYPE_OM_100);   /* what Prometheus sends */
    format_is("APPLICATION/OpenMetrics-Text; Version=1.0.0", EXPO_OPENMETRICS, CONTENT_TYPE_OM_100);
    /* q orders the entries; ties keep their order; q=0 means "not this" */
    format_is("text/plain;q=0.9, application/openmetrics-text;version=1.0.0", EXPO_OPENMETRICS,
              CONTENT_TYPE_OM_100);
    format_is("application/openmetrics-text;version=1.0.0;q=0.3, text/plain;q=0.7", EXPO_TEXT,
              CONTENT_TYPE_TEXT);
    format_is("application/openmetrics-text;version=1.0.0;q=0, text/plain", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("text/plain, application/openmetrics-text;version=1.0.0", EXPO_TEXT, CONTENT_TYPE_TEXT);
    /* what poold cannot serve falls through to the next entry, or to text */
    format_is("application/openmetrics-text;version=2.0.0, application/openmetrics-text;version=1.0.0;q=0.5",
              EXPO_OPENMETRICS, CONTENT_TYPE_OM_100);
    format_is("application/json", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("text/plain;version=9.9", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("*/*", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("text/*", EXPO_TEXT, CONTENT_TYPE_TEXT);
    /* a malformed q counts as q=0 */
    format_is("application/openmetrics-text;version=1.0.0;q=high", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is("application/openmetrics-text;version=1.0.0;q=1.5", EXPO_TEXT, CONTENT_TYPE_TEXT);
    format_is(" , ,;, application/openmetrics-text ; version=1.0.0 ,", EXPO_OPENMETRICS, CONTENT_TYPE_OM_100);

    /* only the first 32 entries are looked at */
    char many[32 * 12 + 64] = "";
    for (int i = 0; i < 32; i++)
        strcat(many, "text/html, ");
    strcat(many, om1);
    format_is(many, EXPO_TEXT, CONTENT_TYPE_TEXT);

    OK(!negotiate_gzip(NULL), "no Accept-Encoding: no gzip");
    OK(negotiate_gzip("gzip"), "gzip");
    OK(negotiate_gzip("deflate, gzip;q=0.5"), "deflate, gzip;q=0.5");
    OK(negotiate_gzip("x-gzip"), "x-gzip");
    OK(negotiate_gzip("GZIP"), "GZIP (case does not matter)");
    OK(!negotiate_gzip("gzip;q=0"), "gzip;q=0 refuses it");
    OK(!negotiate_gzip("identity"), "identity");
    OK(negotiate_gzip("*"), "* allows it");
    OK(!negotiate_gzip("*;q=0"), "*;q=0");
    OK(!negotiate_gzip("gzip;q=0, *"), "an explicit gzip;q=0 wins over *");
    OK(!negotiate_gzip(""), "empty");
    return tap_done();
}
