"""Text: reading a corpus, tokenizing it, joining phrases and counting the vocabulary.

    corpus       files, globs and ``.gz`` read line by line (a line is a sentence)
    tokenize     the tokenizer shared by counting, pipelines and queries
    phrases      word2phrase collocations (``new york`` → ``new_york``), with phrase_file / phrase_join
    vocabulary   tokens and counts in word2vec.c's order

Nothing here imports TensorFlow at package import.
"""
