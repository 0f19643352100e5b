#!/usr/bin/env bash
# The demo: the 2024 agreement with Landkreis Gießen (../shared/seeds) walked through its life on
# a fresh SQLite database in ./demo, the way staff would type it; every `$ ` line it prints can
# be pasted into a shell as it is. The signature dates are the
# real ones of the seed; the notice and the review are examples.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
demo=${DEMO_DIR:-$root/demo}
rm -rf "$demo" && mkdir -p "$demo"
# The person running the demo is its admin (the shipped config names root), so that --actor
# may name the staff who act.
login=$(id -un)
sed -e "s#^file = \"states/agreement.toml\"#file = \"$root/states/agreement.toml\"#" \
    -e "s#^folder = \"notifications\"#folder = \"$root/notifications\"#" \
    -e "s#^root = \"admin\"#\"$login\" = \"admin\"#" \
    "$root/config.toml" > "$demo/config.toml"
export AQB_CONFIG="$demo/config.toml"
unset AQB_ACTOR

# Each command is printed as it can be pasted into a shell: words with spaces or quotes are
# quoted the way bash reads them back.
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then printf '%s' "$1"
  else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}
show() {
  local line='' word
  for word in "$@"; do line+="${line:+ }$(quote "$word")"; done
  printf '\n$ %s\n' "$line"
}
step() { show "$@"; "$@"; }

printf '\n$ export AQB_CONFIG=%s PATH=%s:"$PATH"\n' \
  "$(quote "$AQB_CONFIG")" "$(quote "$(dirname "$(command -v aqb)")")"
step aqb init
step aqb create --district "Landkreis Gießen" --year 2024 --budget 1.266.800,00 --actor hmsi-aqb
while IFS='|' read -r category title; do
  aqb measure add 2024-giessen --category "$category" "$title" --actor hmsi-aqb >/dev/null
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
printf '\n# 10 Maßnahmen wie: %s\n' \
  "$(show aqb measure add 2024-giessen --category qualifizierung "Plan B" --actor hmsi-aqb | sed -n 's/^\$ //p')"
step aqb contact add --district giessen --role district --name "Petra Muster" --email aqb@lkgi.example \
  --actor hmsi-aqb
step aqb contact add --role ministry_desk --name "AQB-Referat" --email aqb@hmsi.example --actor hmsi-aqb
aqb contact add --role rp_kassel --name "RP Kassel, Dezernat 57" --email dez57@rpks.example \
  --actor hmsi-aqb >/dev/null
aqb contact add --district wetterau --role district --name "Jan Beispiel" \
  --email aqb@wetterau.example --actor hmsi-aqb >/dev/null
step aqb triggers 2024-giessen
step aqb transition 2024-giessen sign_ministry on=01.07.2024 by="Heike Hofmann" place=Wiesbaden \
  --actor hmsi-aqb
step aqb transition 2024-giessen sign_district on=10.7.2024 by="Anita Schneider" place=Gießen \
  received_on=15.07.2024 --actor giessen
step aqb transition 2024-giessen issue_notice on=2024-08-05 ref="RPKS 57 - 2024/GI" --actor rp-kassel
step aqb transition 2024-giessen schedule_review at="15.10.2024 10:00" location="Kreishaus Gießen" \
  --actor hmsi-aqb
step aqb transition 2024-giessen close held_on=15.10.2024 outcome="Umsetzung planmäßig" \
  --actor hmsi-aqb
step aqb show 2024-giessen
step aqb history 2024-giessen

# Reminders: a second agreement waits for the Wetteraukreis' countersignature since July 2024,
# and next year's agreement for Gießen is drafted. The daemon sends what is due (the file
# backend writes each mail as an .eml file you can open) and plans the rest.
step aqb create --district Wetteraukreis --year 2024 --budget 1.140.300 --actor hmsi-aqb
step aqb transition 2024-wetterau sign_ministry on=02.07.2024 by="Heike Hofmann" --actor hmsi-aqb
step aqb create --district giessen --year 2027 --budget 1.300.000 --actor hmsi-aqb
step aqb reminders list
step aqb daemon --once
step aqb reminders list --all
step ls "$demo/outbox"
step aqb audit verify
