"""The composer: what a rep writes from a record (validation, From menu, reply / forward
pre-fill, tokens) and its library of templates, snippets and signatures. It queues what it
builds through `outbox.enqueue`."""
