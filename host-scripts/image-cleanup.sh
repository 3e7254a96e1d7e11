#!/bin/bash
# Remove images left untagged when a newer load took their tag (the seed's ImageCleanup.sh).
d=${DOCKER:-/usr/bin/docker}
"$d" images -q --filter dangling=true | xargs -r "$d" rmi
