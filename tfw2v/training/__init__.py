"""Training: the recipe, the model, its optimizer, the fused kernel, checkpoints, progress and runs.

    recipe          the TOML configuration of a run (TensorFlow-free: the CLI's ``--help`` reads it)
    model           ``Word2Vec``, the ``keras.Model`` that ``fit`` trains
    optimizer       word2vec's SGD and learning-rate schedule
    kernels         the fused C++ training op and its build
    checkpointing   checkpoints, stop signals and exact mid-epoch resume
    progress        corpus words/s on the progress bar and in the logs
    vectors         ``WordVectors``: what training produces, what evaluation and exports read
    run_directory   the run directory's layout and how a run is read back

Nothing here imports TensorFlow at package import.
"""
