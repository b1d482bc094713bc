"""Integration settings hold only what their connector declares, and the nightly schedule sends
at most 31 days back (see connectors/settings.py and Integration.schedule_days_back).

Rows written before those rules are brought within them: a key no connector declares is
dropped (it was never read, and a secret written there by mistake sat in clear JSON that every
member could read; credentials are stored encrypted), a settings value that is not an object
becomes an empty one, and a schedule further back than 31 days becomes 31 days.
"""

from django.core import validators
from django.db import migrations, models

# What the connectors declared when this ran (Plexxis: its address). Written out rather than
# imported: a migration keeps meaning what it meant when it ran.
DECLARED = {"base_url"}
DAYS_BACK_MAX = 31


def bring_within_the_rules(apps, schema_editor):
    Integration = apps.get_model("timesync", "Integration")
    for integration in Integration.objects.only("pk", "settings", "schedule_days_back"):
        settings = integration.settings if isinstance(integration.settings, dict) else {}
        declared = {key: value for key, value in settings.items()
                    if key in DECLARED and isinstance(value, str)}
        days_back = min(integration.schedule_days_back, DAYS_BACK_MAX)
        if declared != integration.settings or days_back != integration.schedule_days_back:
            Integration.objects.filter(pk=integration.pk).update(
                settings=declared, schedule_days_back=days_back)


class Migration(migrations.Migration):

    dependencies = [
        ("timesync", "0005_ledger_last_writer"),
    ]

    operations = [
        migrations.RunPython(bring_within_the_rules, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="integration",
            name="schedule_days_back",
            field=models.PositiveSmallIntegerField(
                default=1, help_text="Which day the nightly sync sends: 1 = yesterday (at most 31).",
                validators=[validators.MaxValueValidator(31)],
            ),
        ),
    ]
