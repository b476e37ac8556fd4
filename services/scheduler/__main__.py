from services.scheduler.app import create_app
from services.scheduler.settings import SchedulerSettings
from shared.entry import serve

serve(SchedulerSettings, create_app)
