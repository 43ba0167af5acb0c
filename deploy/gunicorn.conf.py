"""The gunicorn configuration lives in the package (tpr_ws/gunicorn_conf.py), so an installed
wheel has it too. Either of these runs the same:

    gunicorn -c python:tpr_ws.gunicorn_conf tpr_ws.app:create_app
    gunicorn -c deploy/gunicorn.conf.py tpr_ws.app:create_app
"""

from tpr_ws.gunicorn_conf import *  # noqa: F403
