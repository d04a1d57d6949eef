"""RRNCO-style neural routing on real-road matrices: rl4co environments, a city-based generator, conversions."""
