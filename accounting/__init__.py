"""accounting-impact: business documents in, balanced general-ledger entries out."""
