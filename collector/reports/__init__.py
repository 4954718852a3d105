"""What the warehouse says: daily series, claims, comparisons, projections, badges and exports."""
