from rest_framework.pagination import PageNumberPagination


class PortalPagination(PageNumberPagination):
    """Every list is paginated; clients choose a page size up to a bound that keeps pages cheap."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
