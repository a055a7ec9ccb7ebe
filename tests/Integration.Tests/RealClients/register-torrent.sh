#!/usr/bin/env bash
# The SWARM_REGISTER hook of ../shared/realclient/swarm.sh: registers the run's new torrent with the
# tracker under test through its admin API, as a site does when a torrent is uploaded.
# Called as: register-torrent.sh INFOHASH_HEX TORRENT_FILE
# Needs TRACKER_ADMIN_URL and TRACKER_ADMIN_TOKEN; appends the hash to REGISTER_LOG when set.
set -euo pipefail
info_hash=$1
torrent_id=${REGISTER_TORRENT_ID:-$(( $(date +%s%N) / 1000 % 1000000000 + 1 ))}
curl -fsS -X PUT \
  -H "Authorization: Bearer ${TRACKER_ADMIN_TOKEN:?}" \
  -H 'Content-Type: application/json' \
  --data "{\"id\": $torrent_id, \"status\": \"active\"}" \
  "${TRACKER_ADMIN_URL:?}/admin/torrents/$info_hash"
if [ -n "${REGISTER_LOG:-}" ]; then
  echo "$info_hash" >> "$REGISTER_LOG"
fi
