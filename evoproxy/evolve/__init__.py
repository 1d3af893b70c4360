"""The evolution engine: the loop, selection strategies, screening, random programs, variation,
the DEAP glue (the only deap import), the run store, the report and the run config."""
