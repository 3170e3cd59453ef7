"""Chat: incident channels, the live incident card, the timeline thread, slash commands, buttons.

The rest of mlresponder never talks to Slack. It records events with
`bot.incidents.log_event`; this package turns them into outbox rows in the same transaction
(`flows`), and a worker (`outbox`) delivers them through a chat port: Slack (`slack_port`,
every call through `slack_client`) or the console (`console`). Incoming Slack requests
(`bolt_app`, `commands`) call the same service functions the API and the CLI use.
"""
