# The original lab's Python snippet, with the field name right ("baseUrl", not "baseUr1") and a
# unique subject (the same subject is the same meeting). Pointed at the project's own broker:
#   MTG_BROKER_URL=http://127.0.0.1:8080 BOT_TOKEN=<an API key> python3 examples/lab-requests.py
# At Cisco: MTG_BROKER_URL=https://mtg-broker-a.wbx2.com (or https://mtg-broker.gov.ciscospark.com)
# and BOT_TOKEN=<your bot token>.
import json
import os
import time

import requests

url = os.environ.get("MTG_BROKER_URL", "http://127.0.0.1:8080") + "/api/v2/joseencrypt"

payload = json.dumps({
    "jwt": {
        "sub": "Test meeting " + str(int(time.time() * 1000))
    },
    "aud": "a4d886b0-979f-4e2c-a958-3e8c14605e51",
    "provideShortUrls": True
})
headers = {
    'Content-Type': 'application/json',
    'Authorization': 'Bearer ' + os.environ["BOT_TOKEN"]
}

response = requests.request("POST", url, headers=headers, data=payload)
response.raise_for_status()

print("THE GUEST URL IS: ", response.json()["baseUrl"] + response.json()["guest"][0]["short"])
