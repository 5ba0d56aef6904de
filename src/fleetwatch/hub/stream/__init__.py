"""The live WebSocket stream (H10): `GET /ws`, seed 004's protocol, fed by the event bus.

- `messages.py`: every message's shape (seed 004's `monitoring_data` and control replies, plus
  `alert`, `subscribed`, typed `error`), built once per event and shared by every client;
- `filters.py`: what a client subscribed to (servers or groups, families, rate);
- `broker.py`: the connected clients, their bounded queues and senders, and the bus consumer;
- `endpoint.py`: the WebSocket route (authentication, the control loop, frame limits).
"""
