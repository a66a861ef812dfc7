"""Business rules with no Flask in them: data scope, workflow, validators, audit."""
