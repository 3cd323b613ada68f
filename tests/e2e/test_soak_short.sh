#!/usr/bin/env bash
# The chaos soak, short (about 35 s of chaos): see soak.sh.  `make soak` runs the long one.
exec bash "$(dirname "$0")/soak.sh" --duration "${E2E_SOAK_SECONDS:-35}" --candidates 3 "$@"
