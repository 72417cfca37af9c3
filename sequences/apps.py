from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from records import timeline

        from .enrollment import card, services

        # The enrollment's card on the contact's timeline.
        timeline.register_kind(
            services.SEQUENCE_ACTIVITY,
            _("Sequence"),
            "sequences/enrollment/card.html",
            card.prefetch_enrollments,
        )
