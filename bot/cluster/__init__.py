"""Several bot processes on one database: who holds which duty (leases), how they wake each
other (signals), and what this process is called among them."""
