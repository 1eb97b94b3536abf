"""AudioLDM from well-kept libraries: loading (components), CLAP conditioning (clap), our sampling loop
(sample), the attention-head layout (attention) and tiny random-weight folders for tests (tiny).

Needs the ``ldm`` extra (diffusers, transformers, accelerate); nothing here is imported by scoring.
"""
