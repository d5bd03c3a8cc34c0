# Read by the `flask` command (python-dotenv): where the application lives.
FLASK_APP=app.py
