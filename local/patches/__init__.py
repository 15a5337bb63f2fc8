"""moto's internals patched to behave as AWS does, one module per service or behaviour (moto 5.2.6).

Each module owns its patches (named, each with a ``patch_<name>()`` that applies it) and says
in its docstring the AWS fact it restores. ``local/moto_patches.py`` lists them all and applies
them in order (``moto_patches.install()``); ``tests/functional/test_moto_patches*.py`` test each.
"""
