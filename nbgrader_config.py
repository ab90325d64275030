"""nbgrader configuration of the course: run nbgrader from this folder."""

import os

c = get_config()  # noqa: F821  (injected by nbgrader / traitlets)

# The folder of this file, whatever the current directory.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "cnn-from-first-principles"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# Assignments are the numbered folders of solutions/ (01_convolution, ...).
c.CourseDirectory.notebook_id = "*"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# A kernel that runs away is stopped, and the cell reports it.
c.ExecutePreprocessor.timeout = 120
c.Execute.interrupt_on_timeout = True
