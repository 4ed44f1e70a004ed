"""Code that runs in the student's child process, beside student code: nothing here is trusted by the judge."""
