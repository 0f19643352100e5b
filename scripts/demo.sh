#!/usr/bin/env bash
# The demo: the 2024 agreement with Landkreis Gießen (../shared/seeds) walked through its life on
# a fresh SQLite database in ./demo, the way staff would type it. The signature dates are the
# real ones of the seed; the notice and the review are examples.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
demo=${DEMO_DIR:-$root/demo}
rm -rf "$demo" && mkdir -p "$demo"
sed -e "s#^file = \"states/agreement.toml\"#file = \"$root/states/agreement.toml\"#" \
    -e "s#^folder = \"notifications\"#folder = \"$root/notifications\"#" \
    "$root/config.toml" > "$demo/config.toml"
export AQB_CONFIG="$demo/config.toml"
step() { printf '\n$ %s\n' "$*"; "$@"; }

step aqb init
export AQB_ACTOR=hmsi-aqb
step aqb create --district "Landkreis Gießen" --year 2024 --budget 1.266.800,00
while IFS='|' read -r category title; do
  aqb measure add 2024-giessen --category "$category" "$title" >/dev/null
done <<'MEASURES'
ausbildungsvorbereitung|BOM Hungen
ausbildungsvorbereitung|FIT Fachkräftegewinnung im Teilzeitmodell
ausbildungsvorbereitung|Dreisprung in Ausbildung
ausbildung|BAE - Berufsausbildung in außerbetrieblichen Einrichtungen
qualifizierung|Plan B
qualifizierung|Aufbruch im Alltag
qualifizierung|Wegbereiter in den Alltag
qualifizierung|Power-UP
qualifizierung|Frauen und Beruf: Digitalisierung
weiterbildung|verschiedene Weiterbildungsmaßnahmen oder Workshops in versch. Jahren
MEASURES
step aqb contact add --district giessen --role district --name "Petra Muster" --email aqb@lkgi.example
step aqb contact add --role ministry_desk --name "AQB-Referat" --email aqb@hmsi.example
aqb contact add --role rp_kassel --name "RP Kassel, Dezernat 57" --email dez57@rpks.example >/dev/null
aqb contact add --district wetterau --role district --name "Jan Beispiel" --email aqb@wetterau.example >/dev/null
step aqb triggers 2024-giessen
step aqb transition 2024-giessen sign_ministry on=01.07.2024 by="Heike Hofmann" place=Wiesbaden
step aqb transition 2024-giessen sign_district on=10.7.2024 by="Anita Schneider" place=Gießen \
  received_on=15.07.2024 --actor giessen
step aqb transition 2024-giessen issue_notice on=2024-08-05 ref="RPKS 57 - 2024/GI" --actor rp-kassel
step aqb transition 2024-giessen schedule_review at="15.10.2024 10:00" location="Kreishaus Gießen"
step aqb transition 2024-giessen close held_on=15.10.2024 outcome="Umsetzung planmäßig"
step aqb show 2024-giessen
step aqb history 2024-giessen

# Reminders: a second agreement waits for the Wetteraukreis' countersignature since July 2024,
# and next year's agreement for Gießen is drafted. The daemon sends what is due (the file
# backend writes each mail as an .eml file you can open) and plans the rest.
step aqb create --district Wetteraukreis --year 2024 --budget 1.140.300
step aqb transition 2024-wetterau sign_ministry on=02.07.2024 by="Heike Hofmann"
step aqb create --district giessen --year 2027 --budget 1.300.000
step aqb reminders list
step aqb daemon --once
step aqb reminders list --all
printf '\n$ ls demo/outbox\n'; ls "$demo/outbox"
step aqb audit verify
