"""Use cases that resolve names (benchmarks, proxies, teachers) and tie the engine to them: search,
eval, allocate, select, train and benchmark builds. The command line calls only this package."""
