"""The Flask shell: app factory, extensions, signed-in user, errors, Jinja filters."""
