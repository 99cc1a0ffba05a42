//! The worker pool: a fixed set of threads fed by a bounded queue. (Core; being written.)
