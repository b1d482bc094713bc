def organization(request):
    return {}
