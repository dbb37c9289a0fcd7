# systemd units: build/systemd/poold.{service,socket} (ExecStart pointing at
# $(PREFIX)/bin/poold) and `make install-systemd`, part of `make install`.
#
# Units go to $(PREFIX)/lib/systemd/system: /usr/local/lib/systemd/system for
# the default PREFIX and /usr/lib/systemd/system for PREFIX=/usr, both on
# systemd's search path; a copy in /etc/systemd/system would shadow later
# installs, which is the administrator's place to override (systemctl edit).
# For another PREFIX set SYSTEMD_UNITDIR=/etc/systemd/system.

SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSTEMD_UNITS   := $(BUILD)/systemd/poold.service $(BUILD)/systemd/poold.socket

all: $(SYSTEMD_UNITS)

# $(BUILD)/prefix changes with PREFIX, so the units never point at another install.
$(BUILD)/systemd/%: systemd/% $(BUILD)/prefix
	@mkdir -p $(@D)
	sed 's|^ExecStart=/usr/local/bin/poold|ExecStart=$(PREFIX)/bin/poold|' $< > $@.tmp && mv $@.tmp $@

.PHONY: install-systemd uninstall-systemd
install: install-systemd
install-systemd: $(SYSTEMD_UNITS)
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR)
	install -m 644 $(SYSTEMD_UNITS) $(DESTDIR)$(SYSTEMD_UNITDIR)/
	@if [ -z '$(DESTDIR)' ] && [ -d /run/systemd/system ]; then \
	  echo 'systemctl daemon-reload'; systemctl daemon-reload; fi

uninstall: uninstall-systemd
uninstall-systemd:
	rm -f $(DESTDIR)$(SYSTEMD_UNITDIR)/poold.service $(DESTDIR)$(SYSTEMD_UNITDIR)/poold.socket
