"""Log shipping (issue 22): applog files and configured paths → the hub's `POST /api/logs`.

`shipper.LogShipper` is the thread the daemon starts; `tailer` follows one file across
rotation and truncation, `state` keeps the offsets on disk, `parse` finds level and time,
`discovery` lists the files, `journal` is the optional systemd-journal source (`journalctl`).
"""
