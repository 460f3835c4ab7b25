"""What people find out: what they saw on their connections, what the product stored,
what it cached. Each question reads an independent channel and checks it with a matcher
whose mismatch reads in the product's terms."""
