"""Embedded datasets: every command works on a fresh machine with nothing downloaded."""
