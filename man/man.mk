# Man pages: man/NAME.SECTION, installed by `make install` into
# $(MANDIR)/manSECTION (/usr/local/share/man/man8/poold.8 for the default
# PREFIX, where man(1) looks). `man -l man/poold.8` reads one in the tree.

MANDIR    ?= $(PREFIX)/share/man
MAN_PAGES := $(wildcard man/*.[1-8])

.PHONY: install-man uninstall-man
install: install-man
install-man:
	@set -e; for p in $(MAN_PAGES); do \
	  d='$(DESTDIR)$(MANDIR)'/man$${p##*.}; \
	  echo "install -m 644 $$p $$d/"; install -d "$$d"; install -m 644 "$$p" "$$d/"; \
	done

uninstall: uninstall-man
uninstall-man:
	@for p in $(MAN_PAGES); do \
	  rm -f '$(DESTDIR)$(MANDIR)'/man$${p##*.}/$${p#man/}; done
