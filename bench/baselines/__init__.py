"""Small servers that bench/chat.py measures the product against (same load, same Redis)."""
