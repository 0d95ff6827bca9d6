"""Training: the recipe, the model, its optimizer, checkpoints, progress and runs (the fused ops: ``tfw2v.kernels``).

    recipe          the TOML configuration of a run (TensorFlow-free: the CLI's ``--help`` reads it)
    model           ``Word2Vec``, the ``keras.Model`` that ``fit`` trains
    optimizer       word2vec's SGD and learning-rate schedule
    checkpointing   checkpoints, stop signals and exact mid-epoch resume
    progress        corpus words/s on the progress bar and in the logs
    vectors         ``WordVectors``: what training produces, what evaluation and exports read
    transfer        training on: a model grown onto a larger vocabulary, or warm-started from a vector file
    run             a whole run from a recipe: vocabulary, model, resumable fit, evaluation, exports
    from_recipe     what a recipe builds: corpus files, tokenizer, vocabulary, model, each epoch's dataset
    run_directory   the run directory's layout and how a run is read back
    run_callbacks   several ``fit`` calls as one run, and the step of the epoch a batch stands at
    vocabulary_assets  the vocabulary as assets of a ``.keras`` file

Nothing here imports TensorFlow at package import.
"""
