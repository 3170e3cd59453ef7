"""Monitors and escalation: mlresponder's own watch on prediction logs, and on unanswered incidents.

ML systems fail silently: inputs drift, a feature goes missing, accuracy sags, and nothing
raises. A monitor is a YAML-declared check over a prediction log (a SQL table or query, or
Parquet/CSV files) run on a schedule; a breach opens or joins an incident exactly as an
external alert does. Escalation pages the next tier when nobody acknowledges, and reminds
while an incident sits without updates or its postmortem unreviewed.

Modules: `schema` (the YAML contract), `loader` (file:line:field errors), `layout` and
`sources` (one read per window, sampled by the database), `checks` (the diagnostics engine on
those rows), `gauges` (the exported figures, from the same rows), `runner` (locks, run
history, alerts), `escalation` (pure policy + jobs),
`metrics` (Prometheus gauges), `jobs` (their scheduler jobs); `bot.wiring` installs them.
"""
