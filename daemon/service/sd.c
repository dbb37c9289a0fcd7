/* sd_notify messages; see sd.h. */
#include "service/sd.h"
#include "service/clock.h"

#include <systemd/sd-daemon.h>

void sd_tell_ready(const char *status) { sd_notifyf(0, "READY=1\nSTATUS=%s", status); }
void sd_tell_status(const char *status) { sd_notifyf(0, "STATUS=%s", status); }
void sd_tell_stopping(void) { sd_notify(0, "STOPPING=1\nSTATUS=Stopping"); }
void sd_tell_watchdog(void) { sd_notify(0, "WATCHDOG=1"); }

void sd_tell_reloading(void)
{
    unsigned long long usec = mono_ns() / 1000;
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading the configuration", usec);
}

uint64_t sd_watchdog_usec(void)
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
