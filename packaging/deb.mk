# make deb: build/poold_<version>_<arch>.deb, a Debian binary package built
# with dpkg-deb under fakeroot from `make install PREFIX=/usr` into a staging
# tree (no debhelper). packaging/deb.sh adds the control file, the
# maintainer scripts and the documentation Debian expects.

DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo unknown)
DEB      := $(BUILD)/poold_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT := $(BUILD)/deb/root

.PHONY: deb
deb:
	@$(MAKE) --no-print-directory PREFIX=/usr all
	rm -rf $(DEB_ROOT)
	@$(MAKE) --no-print-directory -s PREFIX=/usr SYSCONFDIR=/etc DESTDIR=$(abspath $(DEB_ROOT)) install
	packaging/deb.sh $(DEB_ROOT) $(VERSION) $(DEB_ARCH) $(DEB)
