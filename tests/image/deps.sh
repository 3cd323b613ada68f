#!/usr/bin/env bash
# The Debian packages that `make image` and tests/e2e/test_image.sh need: tests/deps.sh image.
exec "$(dirname "$0")/../deps.sh" image
