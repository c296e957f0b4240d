"""The data step: read what people have, refuse what would ruin a run, show what the model will see.

loaders (files, frames → located records) → formats (detect, convert to messages) → validate / load (strict or
lenient, located problems) → cleaning (report, explicit drops) → splits → prepare (PreparedData for the trainer)
→ mixing (general text into the training rows, against forgetting); probes + templates + template_checks (training
chat templates), masking (loss view), lengths (token statistics), preflight (the checks a run makes once the
tokenizer is loaded), commands (`ft-jupyter data ...`).
"""
