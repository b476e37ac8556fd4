"""One module per network. Each exposes ``router`` (mounted under ``/{network}``) and the hooks
the control API calls: ``make_account``, ``external_id``, ``credentials``, ``add_comment`` and,
where the network has direct messages, ``add_message``."""
