"""Code attributes: static algorithm tags, correctness through the sandbox (`monoscope.core.sandbox`), the LLM judge."""
