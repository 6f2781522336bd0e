#!/usr/bin/env bash
# curl against the project's broker (or Cisco's, for the first call):
#   IC_URL=http://127.0.0.1:8080 IC_API_KEY=<key> [HOOK_ID=… HOOK_SECRET=…] bash examples/curl.sh
set -euo pipefail
: "${IC_URL:=http://127.0.0.1:8080}"
: "${IC_API_KEY:?set IC_API_KEY to an API key (instant-connect keys create --name curl)}"
aud=a4d886b0-979f-4e2c-a958-3e8c14605e51
stamp=$(date +%s)

echo "# 1. Cisco's API: one host and one guest link, short"
curl -sS --fail-with-body "$IC_URL/api/v2/joseencrypt" \
  -H "Authorization: Bearer $IC_API_KEY" -H 'Content-Type: application/json' \
  -d '{"jwt":{"sub":"curl-'"$stamp"'"},"aud":"'"$aud"'","provideShortUrls":true}'
echo

echo "# 2. A visit: 1 host, 2 guests, starting now for 30 minutes"
curl -sS --fail-with-body "$IC_URL/api/visits" \
  -H "Authorization: Bearer $IC_API_KEY" -H 'Content-Type: application/json' \
  -d '{"subject":"curl visit '"$stamp"'","guests":2,"ttl":"30m"}'
echo

if [ -n "${HOOK_ID:-}" ] && [ -n "${HOOK_SECRET:-}" ]; then
  echo "# 3. The workflow trigger, signed with a hook secret, retried safely with an Idempotency-Key"
  body='{"subject":"Follow-up '"$stamp"'","guests":1,"ttl":"30m"}'
  ts=$(date +%s)
  sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$HOOK_SECRET" -hex | sed 's/^.* //')
  curl -sS --fail-with-body "$IC_URL/hooks/visits" -H 'Content-Type: application/json' \
    -H "X-IC-Hook: $HOOK_ID" -H "X-IC-Timestamp: $ts" -H "X-IC-Signature: v1=$sig" \
    -H "Idempotency-Key: appointment-$stamp" -d "$body"
  echo
fi
